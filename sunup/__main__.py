from sunup.cli import main

main()
