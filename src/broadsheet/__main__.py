from broadsheet.command import main

main()
