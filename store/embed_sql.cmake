# Turns the migration files into a C++ table (one raw string per migration, in order).
# Invoked with -DOUT=<file> -DSOURCES=<a.sql;b.sql;...> -DPG_SOURCES=<the PostgreSQL ones>.
# The C++ function FUNCTION returning the migrations SOURCES, named PREFIX + file name.
function(append_migrations function prefix sources)
  string(APPEND body "const std::vector<Migration>& ${function}() {\n  static const std::vector<Migration> migrations = {\n")
  set(version 0)
  foreach(src ${sources})
    math(EXPR version "${version} + 1")
    get_filename_component(name ${src} NAME)
    file(READ ${src} sql)
    string(APPEND body "      {${version}, \"${prefix}${name}\", R\"sluicesql(${sql})sluicesql\"},\n")
  endforeach()
  string(APPEND body "  };\n  return migrations;\n}\n\n")
  set(body "${body}" PARENT_SCOPE)
endfunction()

set(body "// Generated from store/migrations/*.sql; do not edit.\n#include \"migrations.hpp\"\n\nnamespace sluice::store {\n\n")
append_migrations(Migrations "" "${SOURCES}")
append_migrations(PostgresMigrations "postgresql/" "${PG_SOURCES}")
string(APPEND body "}  // namespace sluice::store\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
