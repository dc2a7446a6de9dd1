# Operations: configuration loading, state file persistence, and the deployment files
# (systemd units, Dockerfile, compose file) checked as far as this machine allows.
add_executable(ops_test
  ${CMAKE_CURRENT_LIST_DIR}/unit/config_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/state_file_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unit/sd_notify_test.cpp
)
target_link_libraries(ops_test PRIVATE metricsd_test_support nlohmann_json::nlohmann_json
                                       GTest::gtest_main)
target_compile_definitions(ops_test PRIVATE METRICSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(ops_test)

# systemd units: a copy whose ExecStart is the built binary (verify checks that it exists).
function(metricsd_test_units)
  set(CMAKE_INSTALL_FULL_BINDIR ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
  set(CMAKE_INSTALL_FULL_SYSCONFDIR /etc)
  set(CMAKE_INSTALL_FULL_DOCDIR ${PROJECT_SOURCE_DIR})
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/ops-units)
  configure_file(${PROJECT_SOURCE_DIR}/systemd/metricsd.service.in ${dir}/metricsd.service @ONLY)
  configure_file(${PROJECT_SOURCE_DIR}/systemd/metricsd.socket ${dir}/metricsd.socket COPYONLY)
  add_test(NAME systemd_units COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/ops/verify_units.sh ${dir})
  set_tests_properties(systemd_units PROPERTIES SKIP_RETURN_CODE 77)
endfunction()
metricsd_test_units()

# Container files, checked without a Docker engine (see docker/README.md). Debian's python3:
# PyYAML is python3-yaml.
set(METRICSD_PYTHON3 /usr/bin/python3)
add_test(NAME docker_files COMMAND ${METRICSD_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/ops/check_docker.py
                                   ${PROJECT_SOURCE_DIR} $<TARGET_FILE:metricsd>)
add_test(NAME docker_healthcheck
         COMMAND ${METRICSD_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/ops/check_docker.py
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:metricsd> --healthcheck)

# The JSON Schema accepts the example and refuses what the loader refuses (python3-jsonschema).
add_test(NAME config_schema COMMAND ${METRICSD_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/ops/check_schema.py
                                    ${PROJECT_SOURCE_DIR})
set_tests_properties(config_schema PROPERTIES SKIP_RETURN_CODE 77)
