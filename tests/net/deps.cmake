# test-net runs loopback HTTP servers (cpp-httplib; Debian ships it as a compiled library).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
target_link_libraries(test-net PRIVATE PkgConfig::HTTPLIB)
