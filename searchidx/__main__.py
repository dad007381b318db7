from searchidx.cli import main

if __name__ == "__main__":  # parse workers re-import the main module (forkserver)
    main()
