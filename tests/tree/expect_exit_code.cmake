# Runs CMD (a ;-list) and fails unless it exits with EXPECTED and prints one
# non-empty line on stderr.  Usage: cmake -DCMD=... -DEXPECTED=2 -P ...
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL EXPECTED)
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECTED}; stderr: ${err}")
endif()
string(STRIP "${err}" err)
if(err STREQUAL "" OR err MATCHES "\n")
  message(FATAL_ERROR "expected exactly one line on stderr, got: '${err}'")
endif()
message(STATUS "ok: ${err}")
