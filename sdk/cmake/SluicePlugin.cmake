# sluice_add_plugin(<name> SOURCES <file>... [LIBRARIES <lib>...] [NO_TORCH]
#                   [OUTPUT_DIRECTORY <dir>])
#
# Builds <name>.so, a Sluice plugin, the same way for Sluice's own plugins and for third
# parties: hidden visibility, no undefined symbols, linked to the SDK (and LibTorch unless
# NO_TORCH). After linking it reads the plugin's contract through its C entry point and
# embeds it in the ELF section .sluice_contract, so `sluice validate` and `sluice plugins`
# can read it without loading the library.
include_guard(GLOBAL)

function(sluice_add_plugin name)
  cmake_parse_arguments(ARG "NO_TORCH" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sluice_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  target_link_options(${name} PRIVATE -Wl,-z,defs)
  target_link_libraries(${name} PRIVATE SluiceSDK::sdk ${ARG_LIBRARIES})
  if(NOT ARG_NO_TORCH)
    target_link_libraries(${name} PRIVATE SluiceSDK::torch)
  endif()

  # In our own tree the tool is an ALIAS of a target being built: build it first.
  get_target_property(dump_target SluiceSDK::contract_dump ALIASED_TARGET)
  if(dump_target)
    add_dependencies(${name} ${dump_target})
  endif()

  set(contract_json ${CMAKE_CURRENT_BINARY_DIR}/${name}.contract.json)
  if(NOT CMAKE_OBJCOPY)
    find_program(CMAKE_OBJCOPY objcopy REQUIRED)
  endif()
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            $<TARGET_FILE:SluiceSDK::contract_dump> $<TARGET_FILE:${name}> ${contract_json}
    COMMAND ${CMAKE_OBJCOPY} --remove-section=.sluice_contract
            --add-section=.sluice_contract=${contract_json}
            --set-section-flags=.sluice_contract=contents,readonly
            $<TARGET_FILE:${name}>
    COMMENT "Embedding the contract of Sluice plugin ${name}"
    VERBATIM)
endfunction()

# sluice_plugin_test(<name> SOURCES <file>... [PLUGIN <plugin-target>] [LIBRARIES <lib>...]
#                    [ENVIRONMENT <VAR=value>...])
#
# A GoogleTest executable testing a plugin's stage through sluice::testing::StageHarness
# (sluice/testing/stage_harness.hpp), registered with CTest. With PLUGIN, it is built after
# the plugin and run with SLUICE_PLUGIN_PATH set to the plugin's folder, so that
# StageHarness("<plugin name>") loads the library just built. Add SluiceSDK::torch to
# LIBRARIES to use the tensor port types in the test.
function(sluice_plugin_test name)
  cmake_parse_arguments(ARG "" "PLUGIN" "SOURCES;LIBRARIES;ENVIRONMENT" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sluice_plugin_test(${name}): SOURCES is required")
  endif()
  find_package(GTest REQUIRED)
  include(GoogleTest)
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  target_link_libraries(${name} PRIVATE SluiceSDK::testing GTest::gtest_main ${ARG_LIBRARIES})
  set(environment ${ARG_ENVIRONMENT})
  if(ARG_PLUGIN)
    add_dependencies(${name} ${ARG_PLUGIN})
    list(APPEND environment "SLUICE_PLUGIN_PATH=$<TARGET_FILE_DIR:${ARG_PLUGIN}>")
  endif()
  if(environment)
    # The environment goes through `cmake -E env` as the tests' launcher: gtest_discover_tests
    # passes PROPERTIES through several list expansions, so an ENVIRONMENT of two or more
    # variables reaches CTest split (only the first is set). The launcher runs discovery too.
    get_target_property(launcher ${name} CROSSCOMPILING_EMULATOR)
    if(NOT launcher)
      set(launcher "")
    endif()
    set_property(TARGET ${name} PROPERTY CROSSCOMPILING_EMULATOR ${CMAKE_COMMAND} -E env ${environment} ${launcher})
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST)
endfunction()
