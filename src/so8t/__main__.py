from so8t.cli import main

main()
