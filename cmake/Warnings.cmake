# One place for warning flags: every target of ours calls tdpw_warnings().
function(tdpw_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wconversion
                                           -Wno-sign-conversion -Wimplicit-fallthrough)
  if(TDPW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
