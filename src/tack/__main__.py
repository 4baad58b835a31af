from tack.cli import main

main()
