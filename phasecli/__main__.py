from phasecli.cli import main

main()
