"""The local stack behind `make run`: an embedded AWS (moto server) provisioned from chalicelib.resources,
the Chalice API served by `chalice local`, and drivers that feed SQS messages and schedules to the app's
handlers, because neither moto nor `chalice local` ever invokes event handlers.

Modules: provision (create every resource against any endpoint), drivers (SQS and schedule pumps), seed (the
demo catalog and vouchers), stack (start and stop the whole thing; `python -m local.stack`), and offline (the
in-process moto account of the tests and benchmarks). Nothing here goes into the Lambda zip.
"""
