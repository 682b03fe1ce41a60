# Warnings for Sluice's own targets (third-party headers come in as SYSTEM and stay quiet).
function(sluice_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                                           -Wunused -Woverloaded-virtual
                                           -Wimplicit-fallthrough)
  if(SLUICE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
