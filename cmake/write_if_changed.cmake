# write_if_changed(PATH CONTENT): writes CONTENT to PATH unless PATH already holds exactly that,
# so a generated source that did not change rebuilds nothing. For the generator scripts run with
# `cmake -P` (store/cmake/embed_migrations.cmake, common/cmake/version_info.cmake).
function(write_if_changed path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${content}")
endfunction()
