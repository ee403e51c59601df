from mage_mcp.main import main

main()
