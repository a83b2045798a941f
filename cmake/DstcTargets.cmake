# dstc_library(NAME SOURCES... [DEPS ...]): a module's static library with the house
# warning flags; include paths are relative to the repository root ("store/store.h").
function(dstc_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  dstc_warnings(${name})
endfunction()

function(dstc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(DSTC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
