#: Scheduler ticks per microsecond (from /proc/net/psched), as tc(8) computes it.
tick_in_usec: float
