"""`dsgate tools`: build the pinned tools into the cache (`install`), report on them (`doctor`).

install.py orchestrates (plan, lock, version checks, progress, schemas, the bin directory of links);
build.sh holds the Go build recipes, one per tool. What the tools are and which versions they pin is
dsgate.tools and dsgate/data/versions.env.
"""
