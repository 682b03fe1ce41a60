# Turns the migration files into a C++ table (one raw string per migration, in order).
# Invoked with -DOUT=<file> -DSOURCES=<a.sql;b.sql;...>.
set(body "// Generated from store/migrations/*.sql; do not edit.\n#include \"migrations.hpp\"\n\nnamespace sluice::store {\n\nconst std::vector<Migration>& Migrations() {\n  static const std::vector<Migration> migrations = {\n")
set(version 0)
foreach(src ${SOURCES})
  math(EXPR version "${version} + 1")
  get_filename_component(name ${src} NAME)
  file(READ ${src} sql)
  string(APPEND body "      {${version}, \"${name}\", R\"sluicesql(${sql})sluicesql\"},\n")
endforeach()
string(APPEND body "  };\n  return migrations;\n}\n\n}  // namespace sluice::store\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
