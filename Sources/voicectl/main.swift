print("voicectl")
