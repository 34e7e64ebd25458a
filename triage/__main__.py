"""`python -m triage` is the `monshi` command (how `monshi run` starts its children)."""

from triage.cli import main

if __name__ == "__main__":
    main()
