# tahe_embed_migrations(TARGET DIR NAMESPACE)
# Compiles the numbered SQL files of DIR into the binary as
#   const std::vector<tahe::pg::Migration>& <namespace>::Migrations();
# so a service carries its schema with it (no files to ship beside the binary).
function(tahe_embed_migrations target dir ns)
  file(GLOB sqls CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sqls)
  # "|"-separated (a list would be split into words); VERBATIM quotes it for the shell.
  string(REPLACE ";" "|" sqls_arg "${sqls}")
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} "-DSQLS=${sqls_arg}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sqls} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "embedding migrations of ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
