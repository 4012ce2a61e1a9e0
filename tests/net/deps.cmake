# test-net runs loopback HTTP servers (cpp-httplib; Debian ships it as a compiled library).
target_link_libraries(test-net PRIVATE PkgConfig::HTTPLIB)
