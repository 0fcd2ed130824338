"""`python -m wsgid ...`: the same commands as the `wsgid` script (the Apache module uses this)."""

from wsgid.cli import main

if __name__ == "__main__":
    main()
