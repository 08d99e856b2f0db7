"""Deploying an app in the platform's order (spec §3): hooks on the web instance, crons.

hooks    the deploy and post_deploy hooks, one shell script each, on web instance 0
crons    the cron scheduler of an app's web instance: one cron at a time, cancel, timeout
logfile  timestamped lines into deploy.log, post-deploy.log, cron.log (trimmed like app.log)
"""
