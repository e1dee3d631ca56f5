# Script mode: writes OUT, a C++ file defining NS::Migrations() from the SQL files in SQLS
# ("|"-separated).
set(body "")
string(REPLACE "|" ";" sql_list "${SQLS}")
foreach(sql ${sql_list})
  get_filename_component(name ${sql} NAME)
  string(REGEX MATCH "^[0-9]+" version ${name})
  file(READ ${sql} text)
  string(APPEND body "      {${version}, \"${name}\", R\"tahe_sql(${text})tahe_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/*.sql; do not edit.\n#include \"libs/pg/migrations.h\"\n\nnamespace ${NS} {\n\nconst std::vector<tahe::pg::Migration>& Migrations() {\n  static const auto* const kMigrations = new std::vector<tahe::pg::Migration>{\n${body}  };\n  return *kMigrations;\n}\n\n}  // namespace ${NS}\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
