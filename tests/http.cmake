# HTTP: negotiation, gzip, handler (pure), the session over beast::test::stream, and the
# server on a real loopback socket.
add_executable(http_test
  unit/http_negotiation_test.cpp
  unit/gzip_test.cpp
  unit/http_handler_test.cpp
  unit/http_session_test.cpp
  unit/http_server_test.cpp
)
target_link_libraries(http_test PRIVATE metricsd::core GTest::gtest_main)
gtest_discover_tests(http_test)
