"""`dsgate audit`: a live cluster's node agents against its real nodes (snapshot → coverage → run → reports → cli)."""
