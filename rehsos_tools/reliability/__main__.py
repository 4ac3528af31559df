import sys

from rehsos_tools.reliability.run import main

sys.exit(main())
