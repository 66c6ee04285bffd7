"""Command line: `python -m rnncells demo [--epochs N]`."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnncells")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train and compare cells on the seglearn watch IMU data")
    demo.add_argument("--epochs", type=int, default=6)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--seed", type=int, default=0)
    from rnncells.cli import add_diagnose_parser

    add_diagnose_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from rnncells import demo as demo_module

        demo_module.run(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    if args.command == "diagnose":
        return args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
