"""Reference solutions to the exercises. Try the task first!"""
