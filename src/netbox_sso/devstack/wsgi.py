"""NetBox's WSGI application with static files served, for tests and the demo.

Production serves /static from a web server after collectstatic; tests and the demo have none, so
Django's StaticFilesHandler serves them straight from NetBox's package.
"""

from django.contrib.staticfiles.handlers import StaticFilesHandler
from netbox.wsgi import application as netbox_application

application = StaticFilesHandler(netbox_application)
