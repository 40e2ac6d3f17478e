"""Scheduled jobs: drafting purchase orders, re-estimating backorders, retraining models.

Run by hand or by schedule with ``python -m jobs`` (see ``jobs/__main__.py``); each run takes a
lease in the database (``jobs.leases``) and is recorded in ``job_runs``. Only the command line
and the Admin page use this package.
"""
