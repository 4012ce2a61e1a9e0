# Third-party dependencies. Debian 12 packages for everything but LibTorch, which comes from the
# pinned PyPI torch wheel in the virtualenv made by tools/deps.sh (users with their own LibTorch pass
# -DCMAKE_PREFIX_PATH=/path/to/libtorch).
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
find_package(simdjson REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs objdetect dnn)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(Threads REQUIRED)

# LibTorch: prefer a user-supplied prefix, else the virtualenv's wheel.
set(VSTAR_VENV "$ENV{VSTAR_VENV}" CACHE PATH "virtualenv holding the pinned torch wheel")
if(NOT VSTAR_VENV)
  set(VSTAR_VENV "$ENV{HOME}/.local/share/vstar/venv")
endif()
file(GLOB _vstar_torch_cmake "${VSTAR_VENV}/lib/python3*/site-packages/torch/share/cmake")
if(_vstar_torch_cmake)
  list(APPEND CMAKE_PREFIX_PATH ${_vstar_torch_cmake})
endif()
if(NOT VSTAR_CUDA)
  # The wheel is a CUDA build; without a toolkit we link only its CPU libraries (below).
  set(CAFFE2_USE_CUDA OFF)
  set(USE_CUDA OFF)
endif()
if(VSTAR_CUDA)
  set(CUDAToolkit_ROOT /usr/local/cuda)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  # Kineto/NVTX probing in the torch config wants these; harmless when present.
  set(CAFFE2_USE_CUDNN OFF)
  # An explicit arch list stops torch's config from test-running CUDA code to probe for GPUs (there
  # is none here, and CMake 3.25 cannot build that probe with nvcc 13).
  set(TORCH_CUDA_ARCH_LIST "8.0;8.6;8.9;9.0" CACHE STRING "CUDA architectures to compile for")
endif()
find_package(Torch REQUIRED)
get_filename_component(VSTAR_TORCH_LIBDIR "${TORCH_LIBRARY}" DIRECTORY)
message(STATUS "vstar: LibTorch ${Torch_VERSION} from ${VSTAR_TORCH_LIBDIR} (CUDA ${VSTAR_CUDA})")

add_library(vstar_torch INTERFACE)
target_include_directories(vstar_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
if(VSTAR_CUDA)
  target_link_libraries(vstar_torch INTERFACE ${TORCH_LIBRARIES})
  # The wheel's libtorch_cuda carries no RUNPATH (Python preloads its CUDA libraries), so point the
  # linker and the loader at the wheel's own nvidia/* libraries rather than whatever CUDA the
  # system has (/usr/local/cuda's NCCL/cuDNN are other versions).
  file(GLOB _vstar_nvidia_libdirs "${VSTAR_TORCH_LIBDIR}/../../nvidia/*/lib")
  foreach(dir IN LISTS _vstar_nvidia_libdirs)
    get_filename_component(dir ${dir} ABSOLUTE)
    target_link_options(vstar_torch INTERFACE "LINKER:-rpath-link,${dir}" "LINKER:-rpath,${dir}")
    list(APPEND VSTAR_TORCH_RPATH ${dir})
  endforeach()
  target_compile_definitions(vstar_torch INTERFACE VSTAR_WITH_CUDA=1)
else()
  target_link_libraries(vstar_torch INTERFACE ${VSTAR_TORCH_LIBDIR}/libtorch_cpu.so
                                              ${VSTAR_TORCH_LIBDIR}/libc10.so)
endif()
target_compile_options(vstar_torch INTERFACE ${TORCH_CXX_FLAGS})
