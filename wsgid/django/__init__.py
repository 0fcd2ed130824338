"""wsgid's Django app: `python manage.py runwsgid [start-server options]` serves the project.

Add "wsgid.django" to INSTALLED_APPS. runwsgid is `wsgid start-server` with the options a
Django project implies worked out from its settings (see runwsgid.py); every start-server
option can still be given and wins over them.
"""
