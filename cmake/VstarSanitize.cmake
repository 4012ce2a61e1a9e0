# Sanitizer builds (`make check-asan`, run by .ci/run in build-asan): VSTAR_SANITIZE is the list handed
# to -fsanitize=, e.g. "address,undefined". Every target of the tree, plugins included, is compiled
# and linked with it, so a report comes from our code wherever it runs (binary, test, dlopen'd plugin).
# Undefined behaviour aborts (-fno-sanitize-recover) instead of printing and going on, so a report
# fails the test that caused it. -O0: with GCC 12 an -O1 ASan+UBSan compile of our template-heavy
# sources (CLI11, nlohmann::json) takes 1.7x the CPU time of the normal -O2 build and an -O0 one
# 0.9x (measured on lib/io/record.cpp: 17.5 s, 9.0 s, 10.2 s), which is what keeps the sanitizer pass
# inside the CI budget; the tests' run time is spent mostly in FFmpeg and OpenCV, which are not
# instrumented. -fno-omit-frame-pointer gives the reports whole stack traces (AddressSanitizer wiki,
# "Usage").
set(VSTAR_SANITIZE "" CACHE STRING "Build with -fsanitize=<this> (e.g. address,undefined); empty = off")
if(VSTAR_SANITIZE)
  set(_vstar_sanitize -fsanitize=${VSTAR_SANITIZE} -fno-omit-frame-pointer)
  if(VSTAR_SANITIZE MATCHES "undefined")
    list(APPEND _vstar_sanitize -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_vstar_sanitize})
  add_link_options(${_vstar_sanitize})
  string(REGEX REPLACE "-O[0-9s]" "-O0" CMAKE_CXX_FLAGS_RELWITHDEBINFO "${CMAKE_CXX_FLAGS_RELWITHDEBINFO}")
  string(REGEX REPLACE "-O[0-9s]" "-O0" CMAKE_C_FLAGS_RELWITHDEBINFO "${CMAKE_C_FLAGS_RELWITHDEBINFO}")
endif()
