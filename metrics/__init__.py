"""Pure metric functions of the stored records: no network, no files, no clock.

Every function takes records (plain dicts as read from data/) and the moment `now` that ends
every window, and returns plain data. methodology: templates/methodology.html.
"""
