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
  # GCC 12's -Wmaybe-uninitialized misfires on values moved out of tl::expected, and
  # -Wrestrict on inlined std::string copies (GCC bugs 107138, 105329), so both are off;
  # everything else is an error in CI.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-maybe-uninitialized
                                           -Wno-restrict)
  if(DSTC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
