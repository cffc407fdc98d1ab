from bapp.cli import main

raise SystemExit(main())
