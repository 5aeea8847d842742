# Helpers shared by module CMakeLists.

# dk_library(NAME SOURCES... [DEPS targets...])  — a static library for one layer.
function(dk_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# dk_unit_test(NAME SOURCES... DEPS targets...) — a cmocka test registered in CTest.
function(dk_unit_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${A_DEPS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

# dk_system_test(NAME SCRIPT [TIMEOUT s]) — a shell test that starts real programs.
# The script gets DK_BIN (programs), DK_TESTBIN (test helpers), DK_SRC, DK_TMP.
function(dk_system_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash ${script})
  set_tests_properties(${name} PROPERTIES LABELS system TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "DK_BIN=${CMAKE_BINARY_DIR}/bin;DK_TESTBIN=${CMAKE_BINARY_DIR}/tests/bin;DK_SRC=${CMAKE_SOURCE_DIR};DK_TMP=${CMAKE_BINARY_DIR}/tmp/${name}")
endfunction()
