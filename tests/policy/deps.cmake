# test-policy runs vs-decompose against a loopback OpenAI-compatible server (tests/net/loopback.hpp).
target_link_libraries(test-policy PRIVATE PkgConfig::HTTPLIB)
