# Helpers that keep each folder's CMakeLists.txt to a few lines.

set(CANOPY_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# canopy_library(NAME SRCS file... [DEPS target...])
# A static library whose headers are included as "folder/file.h" from the
# repository root. DEPS are linked PUBLIC so users inherit them.
function(canopy_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${NAME} STATIC ${ARG_SRCS})
  target_include_directories(${NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${NAME} PRIVATE ${CANOPY_WARNINGS})
  target_link_libraries(${NAME} PUBLIC ${ARG_DEPS})
endfunction()

# canopy_binary(NAME SRCS file... [DEPS target...])
# An executable installed into build/bin/, with the build's version and
# commit (canopy_build_info: --version).
function(canopy_binary NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_compile_options(${NAME} PRIVATE ${CANOPY_WARNINGS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} canopy_build_info)
endfunction()

# canopy_test(NAME SRCS file... [DEPS target...] [TIMEOUT seconds] [LABELS l...]
#             [SERIAL])
# A GoogleTest executable (in build/tests/) registered with ctest, one ctest
# entry per test case. SERIAL: its cases run alone (timing-sensitive fault
# tests that must not share the two cores with other tests).
function(canopy_test NAME)
  cmake_parse_arguments(ARG "SERIAL" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  set(serial FALSE)
  if(ARG_SERIAL)
    set(serial TRUE)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${NAME} ${ARG_SRCS})
  set_target_properties(${NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_options(${NAME} PRIVATE ${CANOPY_WARNINGS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}" RUN_SERIAL ${serial}
    DISCOVERY_TIMEOUT 60)
endfunction()
