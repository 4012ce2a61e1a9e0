# test-tools runs vs-explain against loopback HTTP servers (tests/net/loopback.hpp, cpp-httplib).
target_link_libraries(test-tools PRIVATE PkgConfig::HTTPLIB)
