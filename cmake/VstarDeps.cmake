# Third-party dependencies. Debian 12 packages for everything but LibTorch, which comes from the
# pinned PyPI torch wheel in the virtualenv made by tools/deps.sh (users with their own LibTorch pass
# -DCMAKE_PREFIX_PATH=/path/to/libtorch).
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # Debian builds it as a library
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
if(VSTAR_CUDA)
  set(CUDAToolkit_ROOT /usr/local/cuda)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  set(CAFFE2_USE_CUDNN OFF)
  # An explicit arch list stops torch's config from test-running CUDA code to probe for GPUs (there
  # is none here, and CMake 3.25 cannot build that probe with nvcc 13).
  set(TORCH_CUDA_ARCH_LIST "8.0;8.6;8.9;9.0" CACHE STRING "CUDA architectures to compile for")
  find_package(Torch REQUIRED)
  get_filename_component(VSTAR_TORCH_LIBDIR "${TORCH_LIBRARY}" DIRECTORY)
  add_library(vstar_torch INTERFACE)
  target_include_directories(vstar_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(vstar_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_definitions(vstar_torch INTERFACE VSTAR_WITH_CUDA=1)
  # The wheel's libtorch_cuda carries no RUNPATH (Python preloads its CUDA libraries), so point the
  # linker and the loader at the wheel's own nvidia/* libraries rather than whatever CUDA the
  # system has (/usr/local/cuda's NCCL/cuDNN are other versions).
  file(GLOB _vstar_nvidia_libdirs "${VSTAR_TORCH_LIBDIR}/../../nvidia/*/lib")
  foreach(dir IN LISTS _vstar_nvidia_libdirs)
    get_filename_component(dir ${dir} ABSOLUTE)
    target_link_options(vstar_torch INTERFACE "LINKER:-rpath-link,${dir}" "LINKER:-rpath,${dir}")
    list(APPEND VSTAR_TORCH_RPATH ${dir})
  endforeach()
else()
  # CPU only. torch's own CMake config insists on a CUDA toolkit when the LibTorch it finds is a
  # CUDA build (as the PyPI wheel is), so use the CPU libraries directly.
  find_path(VSTAR_TORCH_CONFIG_DIR TorchConfig.cmake PATH_SUFFIXES Torch REQUIRED)
  get_filename_component(_torch_root "${VSTAR_TORCH_CONFIG_DIR}/../../.." ABSOLUTE)
  set(VSTAR_TORCH_LIBDIR ${_torch_root}/lib)
  add_library(vstar_torch INTERFACE)
  target_include_directories(vstar_torch SYSTEM INTERFACE ${_torch_root}/include
                                                         ${_torch_root}/include/torch/csrc/api/include)
  target_link_libraries(vstar_torch INTERFACE ${VSTAR_TORCH_LIBDIR}/libtorch_cpu.so
                                              ${VSTAR_TORCH_LIBDIR}/libc10.so)
  target_compile_definitions(vstar_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
  file(READ "${VSTAR_TORCH_CONFIG_DIR}/TorchConfigVersion.cmake" _tv)
  string(REGEX MATCH "PACKAGE_VERSION \"([0-9.]+)" _ "${_tv}")
  set(Torch_VERSION ${CMAKE_MATCH_1})
endif()
message(STATUS "vstar: LibTorch ${Torch_VERSION} from ${VSTAR_TORCH_LIBDIR} (CUDA ${VSTAR_CUDA})")
