"""gunicorn's settings for the shop: `gunicorn -c python:config.gunicorn config.wsgi …` (README,
"Running in production").

The access log leaves out every query string and the Referer header. A URL may carry what no
log may keep: a claim code typed by hand into the admin's search (`?q=…`, which the admin then
redirects away from, docs/interface.md §7), and the Referer of the next request repeats it. So
each line is the client, the time, the method, the path alone, the status, the size, the user
agent and the seconds taken.
"""

access_log_format = '%(h)s - - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s "%(a)s" %(L)s'
