"""The automation run (``billow cron``): tasks, the runner, its lock and its log.

See :mod:`billow.automation.base` for how to write a task and
:mod:`billow.automation.runner` for what one run does.
"""
