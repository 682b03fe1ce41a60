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
