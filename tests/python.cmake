# Python client (client/python): unittest modules run by Debian's own interpreter, as in CI.
# test_vectors and test_api need no daemon; test_client starts the real metricsd binary.
set(METRICSD_PYTHON /usr/bin/python3)
foreach(module vectors api client)
  add_test(NAME python_client_${module}
           COMMAND ${METRICSD_PYTHON} -m unittest -v tests.test_${module}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/client/python)
  set_tests_properties(python_client_${module} PROPERTIES
    ENVIRONMENT "METRICSD_BINARY=$<TARGET_FILE:metricsd>;PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 300)
endforeach()
set_tests_properties(python_client_client PROPERTIES LABELS integration)
