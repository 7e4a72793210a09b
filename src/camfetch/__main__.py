from camfetch.cli.app import main

main()
