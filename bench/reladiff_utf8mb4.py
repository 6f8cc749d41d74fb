"""reladiff with its MySQL/MariaDB connections in utf8mb4.

reladiff's database layer (sqeleton) connects with charset="utf8", which is utf8mb3: every
4-byte character (the bench's emoji) reaches its checksum queries as '?', so each row holding
one differs from PostgreSQL and the run bisects the whole table. This wrapper changes only that
connection argument and then runs reladiff's own command line, arguments unchanged.
"""

import sys

import mysql.connector
from sqeleton.databases import mysql as sqeleton_mysql
from sqeleton.databases.base import ConnectError


def create_connection(self):
    try:
        return mysql.connector.connect(charset="utf8mb4", use_unicode=True, **self._args)
    except mysql.connector.Error as e:
        raise ConnectError(*e.args) from e


sqeleton_mysql.MySQL.create_connection = create_connection

from reladiff.__main__ import main  # noqa: E402  (after the patch, as reladiff imports lazily)

sys.exit(main())
