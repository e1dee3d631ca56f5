# tahe_embed_migrations(TARGET DIR NAMESPACE)
# Compiles the numbered SQL files of DIR into the binary as
#   const std::vector<tahe::pg::Migration>& <namespace>::Migrations();
# so a service carries its schema with it (no files to ship beside the binary).
function(tahe_embed_migrations target dir ns)
  file(GLOB sqls CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sqls)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} "-DSQLS=${sqls}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sqls} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "embedding migrations of ${target}")
  target_sources(${target} PRIVATE ${out})
endfunction()
