from sunprep.cli import main

main()
